"""newsbench: multi-outlet news articles → a validated, multi-config Hugging Face dataset."""

__version__ = "0.1.0"
