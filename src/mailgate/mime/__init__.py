"""Message parsing once at delivery, and retrieval transforms.

Public API (other packages import only from here):

* summarize(buf) -> MessageSummary: over the stored CRLF bytes (bytes/mmap)
* MessageSummary.to_bytes() / MessageSummary.from_bytes(); wire_items(stored) for ENVELOPE/BODY/BODYSTRUCTURE alone
* section_range(summary, section) -> (start, end) | None for BODY[section]
* header_fields(header_block, names, exclude) for HEADER.FIELDS[.NOT]
* binary_section(buf, summary, part) for BINARY[] / BINARY.SIZE (RFC 3516)
* search_text(buf, summary) -> (header_text, body_text) for SEARCH
* nul_to_0x80(data): BODY[] content as sent on the wire
"""

from .headers import header_fields
from .retrieve import binary_section, search_text
from .summary import (LEAF, MESSAGE, MULTIPART, MessageSummary, Part, nul_to_0x80, resolve_part, section_range,
                      SummaryHead, summarize, summary_head, wire_items)
from .text import decode_header, decode_text
from .transfer import BinaryError, DecodeFailed, NoSuchPart, UnknownCte

__all__ = [
    "LEAF", "MESSAGE", "MULTIPART", "BinaryError", "DecodeFailed", "MessageSummary",
    "NoSuchPart", "Part", "UnknownCte", "binary_section", "decode_header", "decode_text",
    "header_fields", "nul_to_0x80", "resolve_part", "search_text", "section_range",
    "SummaryHead", "summarize", "summary_head", "wire_items",
]
