"""TFDS builders for face datasets the user holds a licensed copy of.

Each reads a folder in the layout its owners distribute (TFDS's manual
directory, `config.data.manual_dir`), never downloads, crops and resizes
the faces, and writes array_record with PNG images: the same features and
split names as `synth_faces`, so every stage reads them alike
(`leedjax.data.datasets` picks the builder of `config.data.dataset`).
"""
