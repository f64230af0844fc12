"""License keys in the portal: issue, list, revoke, rotate. (Validation, the SDK's hot path, is
``routes_validation``: no Powertools and no pydantic there.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tollgate.core.logs import get_logger
from tollgate.core.roles import Permission
from tollgate.edge.refusals import answers
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.edge.views import license_key_view
from tollgate.keys.models import LicenseKeyAnswer, LicenseKeyBody, LicenseKeysAnswer, NewLicenseKeyAnswer
from tollgate.keys.service import NewLicenseKey

if TYPE_CHECKING:
    from tollgate.keys.service import LicenseKeyService


class KeyServices(Protocol):
    def license_key_service(self) -> LicenseKeyService: ...


router: CapabilityRouter[KeyServices] = CapabilityRouter()
logger = get_logger()
TAGS = ["license keys"]


@router.post(
    "/v1/keys",
    permission=Permission.MANAGE_LICENSE_KEYS,
    status_code=201,
    responses=answers(201, NewLicenseKeyAnswer, 400, 401, 403),
    tags=TAGS,
)
def create_license_key(body: LicenseKeyBody) -> NewLicenseKeyAnswer:
    request = NewLicenseKey(
        name=body.name,
        regions=tuple(body.regions),
        features=None if body.features is None else tuple(body.features),
        project_id=body.project_id,
        environment=body.environment,
        expires_at=body.expires_at,
    )
    issued = router.services.license_key_service().issue(principal(), request)
    logger.info("license key issued", extra={"license_key_id": issued.key.id})
    return NewLicenseKeyAnswer.model_validate({"key": license_key_view(issued.key), "secret": issued.secret})


@router.get(
    "/v1/keys", permission=Permission.READ_LICENSE_KEYS, responses=answers(200, LicenseKeysAnswer, 401, 403), tags=TAGS
)
def list_license_keys() -> LicenseKeysAnswer:
    keys = router.services.license_key_service().list(principal())
    return LicenseKeysAnswer.model_validate({"keys": [license_key_view(key) for key in keys]})


@router.delete(
    "/v1/keys/<key_id>",
    permission=Permission.MANAGE_LICENSE_KEYS,
    responses=answers(200, LicenseKeyAnswer, 401, 403, 404),
    tags=TAGS,
)
def revoke_license_key(key_id: str) -> LicenseKeyAnswer:
    key = router.services.license_key_service().revoke(principal(), key_id)
    return LicenseKeyAnswer.model_validate({"key": license_key_view(key)})


@router.post(
    "/v1/keys/<key_id>/rotate",
    permission=Permission.MANAGE_LICENSE_KEYS,
    responses=answers(200, NewLicenseKeyAnswer, 401, 403, 404, 409),
    tags=TAGS,
)
def rotate_license_key(key_id: str) -> NewLicenseKeyAnswer:
    issued = router.services.license_key_service().rotate(principal(), key_id)
    logger.info("license key rotated", extra={"license_key_id": key_id})
    return NewLicenseKeyAnswer.model_validate({"key": license_key_view(issued.key), "secret": issued.secret})
