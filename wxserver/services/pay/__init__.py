"""WeChat Pay notifications: the merchant's keys, its API client, exactly-once handling.

Verification and decryption are sans-IO (:mod:`wxserver.protocol.pay`); here is what needs the
store, the network and threads: platform keys by serial with certificates downloaded and rotated
(:mod:`.keys`, :mod:`.api`), the record that makes each notification run its handler once
(:mod:`.ledger`), the handler run on a thread or as a durable job (:mod:`.runner`), and the
pipeline from headers and body to one immutable answer (:mod:`.pipeline`).
"""
