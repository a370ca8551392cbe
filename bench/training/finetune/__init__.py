"""The ``finetune`` mode: image backbones trained end to end (``mode`` runs it, ``loop`` fits)."""
