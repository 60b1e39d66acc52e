"""irkit beside the tools researchers already use.

* :mod:`irkit.interop.irds`: ir_datasets collections by name (``irds:NAME`` wherever a
  collection, topics or qrels path or built-in name works).
* :mod:`irkit.interop.pyterrier`: PyTerrier transformers as irkit stages and back
  (``irkit.to_pyterrier``, ``irkit.from_pyterrier``).

Each library is optional (extras ``irkit[irds]``, ``irkit[pyterrier]``) and imported
only when one of these is used.
"""
