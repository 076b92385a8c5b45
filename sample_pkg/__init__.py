# minijit: native
"""sample_pkg: integer geometry, 16.16 fixed-point math and bit tricks.

Every module of this package carries the ``# minijit: native`` pragma, so with
the jitimport hook active (``python -m jitimport -m sample_pkg``, ``JITIMPORT=1``
or ``jitimport.install()``) their pure integer functions run as native
code; without it the package is ordinary Python with the same results.
"""


def pack_rgb(r, g, b):
    """Pack three 8-bit channels into one 24-bit colour (``0xRRGGBB``)."""
    return ((r & 255) << 16) | ((g & 255) << 8) | (b & 255)


def unpack_green(rgb):
    """The green channel of a packed colour."""
    return (rgb >> 8) & 255
