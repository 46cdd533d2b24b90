"""Data only: the sample library's Exportify CSV files (see ``scripts/make_sample.py``)."""
