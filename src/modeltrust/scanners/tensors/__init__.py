"""Tensor and graph formats: safetensors, GGUF, ONNX, HDF5 and Keras, TensorFlow SavedModel (and
the protobuf wire format it is written in), TorchScript. Each is parsed from its own bytes under
limits; the library of the format is never imported.
"""
