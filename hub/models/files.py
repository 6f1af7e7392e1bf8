"""Attachments: files in the content-addressed store, linked to a message."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.models.base import timestamp


class Attachment(SQLModel, table=True):
    """A stored file; the bytes live in the file store under their sha256."""

    __tablename__ = "attachment"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=120)
    size: int
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True,
                                   ondelete="CASCADE")
    uploaded_by: str = Field(default="", max_length=120)
    created_at: datetime = timestamp()
