"""Text generative models on sentences and abstracts.

``sentence-vae`` (Bowman et al. 2016), ``dcnn-vae`` (Yang et al. 2017, a
dilated-CNN decoder), ``hier-ae`` (Li et al. 2015, a hierarchical autoencoder
of documents) and the ``lstm-lm`` baseline; data in :mod:`.data`, what they
share in :mod:`.common`.
"""
