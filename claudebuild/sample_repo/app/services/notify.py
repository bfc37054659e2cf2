"""Customer e-mails."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from config import settings

log = logging.getLogger(__name__)


def order_confirmed(to: str, order_id: int) -> None:
    if not to:
        return
    message = EmailMessage()
    message["From"] = settings.MAIL_FROM
    message["To"] = to
    message["Subject"] = f"Your order #{order_id} is confirmed"
    message.set_content(f"Thanks for shopping with us! We will let you know when order #{order_id} ships.")
    try:
        with smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=5) as smtp:
            smtp.send_message(message)
    except:
        log.warning("could not send the confirmation for order %s", order_id)
