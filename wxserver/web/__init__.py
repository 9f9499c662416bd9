"""wxserver/web"""
