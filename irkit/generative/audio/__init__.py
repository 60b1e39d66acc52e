"""Audio generative models: WaveNet on speech that espeak-ng synthesises from Cranfield abstracts."""
