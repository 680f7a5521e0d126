"""The static scanner: reads model files of every format and reports what loading them would do.

Nothing here imports, unpickles or runs what it reads. The package is laid out as its
architecture, one room per family, each depending only on the rooms below it:

- :mod:`~modeltrust.scanners.engine`: walks the targets, sniffs each file, offers it to the
  scanners in order, runs them in a pool of forked workers, and takes back what families hand
  it (archive members, embedded pickles, chat templates).
- the families, which never import each other:
  :mod:`~modeltrust.scanners.pickle` (the pickle machine and the torch, joblib and NumPy readers
  built on it), :mod:`~modeltrust.scanners.containers` (zip, tar, 7z, compressed streams),
  :mod:`~modeltrust.scanners.tensors` (safetensors, GGUF, ONNX, HDF5/Keras, SavedModel,
  TorchScript), :mod:`~modeltrust.scanners.configs` (chat templates, Hydra, skops) and
  :mod:`~modeltrust.scanners.remote_code` (the Python a repository asks its users to run);
- :mod:`~modeltrust.scanners.common`: what several families read or judge the same way (format
  sniffing, the verdict on an imported name, zip directories, decompression under limits);
- :mod:`~modeltrust.scanners.interface`: the contract between the engine and every scanner,
  plugins included (blobs, limits, the scan context, the ``Scanner`` base class).

The rule each family raises is in :mod:`modeltrust.rules`; import-linter (``pyproject.toml``)
keeps the arrows pointing down.
"""
