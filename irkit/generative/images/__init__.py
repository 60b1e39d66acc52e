"""Image generative models (MNIST and scikit-learn's digits)."""
