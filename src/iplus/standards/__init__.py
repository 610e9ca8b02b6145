"""Open standards as code: W3C WoT Thing Descriptions and Models, SenML (RFC 8428)."""
