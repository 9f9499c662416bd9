"""wxserver/services"""
