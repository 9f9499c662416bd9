"""The WSGI apps the benchmark serves; each module exposes ``app``.

They run in different virtualenvs (wechatpy and WeRoBot each in their own), so they import only
their own framework and :mod:`bench.targets.credentials`.
"""
