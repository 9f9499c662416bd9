"""Services: configuration, the store, the WeChat API and its token, jobs, sessions, delivery.

They do I/O but know nothing of HTTP requests.
"""
