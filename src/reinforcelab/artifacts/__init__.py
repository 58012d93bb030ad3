"""Artefacts of a run: checkpoints (safetensors), video, plots, and the Hugging Face Hub folder."""
