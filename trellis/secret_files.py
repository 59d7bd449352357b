"""``TRELLIS_<NAME>_FILE``: a setting read from a file, as the official images read
``POSTGRES_PASSWORD_FILE``.

Compose and Kubernetes mount secrets as files (``/run/secrets/...``); an environment variable is
visible to ``docker inspect``, to child processes and to every crash reporter. A file wins over
nothing but loses to the variable itself, so a test or an operator can still override it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


class SecretFilesSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], prefix: str) -> None:
        super().__init__(settings_cls)
        self.prefix = prefix

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = f"{self.prefix}{field_name}_FILE".upper()
        path = os.environ.get(variable)
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text().strip(), field_name, False
        except OSError as exc:  # a missing secret is a start-up error naming the variable
            raise ValueError(f"{variable}={path} cannot be read ({type(exc).__name__})") from exc

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                found[key] = value
        return found
