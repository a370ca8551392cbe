"""The post-hoc prior of a linear run streams the training logits chunk by chunk (an
OpenImages-scale training set never holds its (N, C) logits) and equals the one-array estimate."""
from __future__ import annotations

import numpy as np
import torch

from bench.runs.prior import posthoc_prior
from bench.training.inference import SCORE_CHUNK, logit_chunks, logits_of


def test_chunks_are_consumed_one_at_a_time_and_match_the_whole_array():
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 5)
    features = torch.randn(2 * SCORE_CHUNK + 17, 8)
    seen: list[int] = []

    def watched():
        for chunk in logit_chunks(model, features):
            assert len(seen) == 0 or seen[-1] == SCORE_CHUNK  # the previous chunk was a full one
            seen.append(chunk.shape[0])
            yield chunk

    streamed = posthoc_prior(watched())
    assert seen == [SCORE_CHUNK, SCORE_CHUNK, 17]
    whole = posthoc_prior(logits_of(model, features))
    np.testing.assert_allclose(streamed, whole, rtol=1e-10, atol=0)  # float64 sums in another order
    assert torch.equal(torch.cat(list(logit_chunks(model, features))), logits_of(model, features))
