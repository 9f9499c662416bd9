"""The callback protocol, sans-IO: signatures, the AES envelope, XML, messages, replies, routing.

Nothing here opens a socket, a file or a store, or imports Flask: it is the part to reuse.
"""
