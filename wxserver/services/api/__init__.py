"""wxserver/services/api"""
