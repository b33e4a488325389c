"""Copies an HDF5 file with h5py, every dataset of more than one element gzip-compressed (chunked):

    gzip_copy.py IN.h5 OUT.h5
"""
import sys

import h5py


def copy(source, target):
    for name, item in source.items():
        if isinstance(item, h5py.Group):
            copy(item, target.create_group(name))
        elif item.shape and item.size > 1:
            target.create_dataset(name, data=item[()], compression="gzip", compression_opts=9)
        else:
            target.create_dataset(name, data=item[()])


with h5py.File(sys.argv[1], "r") as source, h5py.File(sys.argv[2], "w") as target:
    copy(source, target)
    compressed = []
    target.visititems(lambda name, item: compressed.append(name) if getattr(item, "compression", None) else None)
    print(f"{len(compressed)} datasets gzip-compressed")
