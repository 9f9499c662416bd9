"""WeChat Pay APIv3 notifications, sans-IO: signatures (RSA), the resource (AES-GCM), types.

WeChat Pay POSTs JSON to the merchant's ``notify_url``, signed with the platform key named by the
``Wechatpay-Serial`` header, its ``resource`` encrypted with the merchant's APIv3 key. The modules
here verify, decrypt and type a notification, and build signed ones for tests and the simulator;
the keys are looked up, and the notification claimed and handled, by ``wxserver.services.pay``.
"""
