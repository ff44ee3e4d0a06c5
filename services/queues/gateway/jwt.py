"""OIDC/JWT bearer tokens from the billing company's identity provider, verified against configured keys.

The token proves who the caller is (its `sub`); what they may see still comes from the user stored in
claimline (role, practices, providers), never from claims in the token.
"""

import json
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class JwtVerifier:
    def __init__(self, keys_file: Path, issuer: str | None, audience: str | None):
        text = keys_file.read_text()
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str | None, Any] = {}
        if text.lstrip().startswith("{"):
            data = json.loads(text)
            jwks = PyJWKSet.from_dict(data) if "keys" in data else None
            for key in jwks.keys if jwks else [PyJWK.from_dict(data)]:
                self.keys[key.key_id] = key.key
        else:
            self.keys[None] = text  # one PEM public key

    def subject(self, token: str) -> str | None:
        """The verified subject, or None when the token is not one of ours (bad signature, expired...)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(kid) or (self.keys.get(None) if len(self.keys) == 1 else None)
            if key is None:
                return None
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) else None
