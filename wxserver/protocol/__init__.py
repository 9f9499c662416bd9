"""wxserver/protocol"""
