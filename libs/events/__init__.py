"""The contract between netledger's services: envelope, subjects, event structs, codec.

Nothing here does I/O. Every service imports its message shapes from this package,
so a change to a shape is a change to this package and to its golden files.
"""
