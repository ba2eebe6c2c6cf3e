"""The one safetensors writer of the PyTorch fixture scripts (tests/fixtures/*.safetensors)."""
import json
import os
import struct
import sys


def write_fixture(tensors, metadata, filename, directory=None):
    """Writes tensors (name -> torch tensor, stored as float32 in name order) to tests/fixtures/<filename> (or to
    <directory>/<filename>), through a temporary file and a rename."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().float()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    root = directory or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")
    path = os.path.join(root, filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(tmp, path)
    print("wrote", os.path.normpath(path), "with", len(tensors), "tensors", file=sys.stderr)
