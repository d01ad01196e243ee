"""Error codes: unique, mapped to HTTP statuses, and turned back into the same class."""

from __future__ import annotations

import pytest

from flotilla.domain import errors
from flotilla.domain.errors import (
    ERRORS_BY_CODE,
    ClusterNotFound,
    FlotillaError,
    InternalError,
    InvalidArgument,
    TokenRevoked,
    error_from_code,
)

HTTP_STATUSES = {400, 401, 403, 404, 405, 409, 413, 415, 422, 500, 502, 503, 504}


def every_error_class() -> list[type[FlotillaError]]:
    found: list[type[FlotillaError]] = []
    pending = [FlotillaError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_class_in_the_module_has_a_code_of_its_own() -> None:
    in_module = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, FlotillaError) and cls is not FlotillaError
    ]
    codes = [cls.code for cls in in_module]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    assert {ERRORS_BY_CODE[cls.code] for cls in in_module} == set(in_module)


def test_every_error_subclass_anywhere_is_known_by_its_code() -> None:
    subclasses = [cls for cls in every_error_class() if cls is not FlotillaError]
    assert {cls.code: cls for cls in subclasses} == ERRORS_BY_CODE


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_error_code_is_screaming_snake_case_and_matches_its_class(code: str) -> None:
    assert code.replace("_", "").isalpha()
    assert code == code.upper()
    assert ERRORS_BY_CODE[code].code == code


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_error_code_maps_to_a_known_http_status(code: str) -> None:
    assert ERRORS_BY_CODE[code].http_status in HTTP_STATUSES


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_error_from_code_gives_back_the_same_class(code: str) -> None:
    error = error_from_code(code, "what went wrong", {"id": "bad"})
    assert type(error) is ERRORS_BY_CODE[code]
    assert (error.code, error.message, error.fields) == (code, "what went wrong", {"id": "bad"})


def test_error_from_an_unknown_code_is_a_plain_flotilla_error() -> None:
    error = error_from_code("FROM_A_NEWER_SERVER", "something new")
    assert type(error) is FlotillaError
    assert error.message == "something new"


def test_internal_code_gives_internal_error() -> None:
    assert ERRORS_BY_CODE["INTERNAL"] is InternalError
    assert InternalError.http_status == 500


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.MalformedRequest, 400),
        (errors.Unauthenticated, 401),
        (errors.TokenExpired, 401),
        (errors.TokenRevoked, 401),
        (errors.PermissionDenied, 403),
        (errors.ClusterNotFound, 404),
        (errors.MethodNotAllowed, 405),
        (errors.ClusterAlreadyExists, 409),
        (errors.ClusterHasDeployments, 409),
        (errors.BodyTooLarge, 413),
        (errors.PackageTooLarge, 413),
        (errors.UnsupportedMediaType, 415),
        (errors.UnknownInstanceType, 422),
        (errors.FieldImmutable, 422),
    ],
)
def test_error_class_answers_its_http_status(cls: type[FlotillaError], status: int) -> None:
    assert cls.http_status == status


def test_subclass_of_a_family_is_caught_as_the_family() -> None:
    with pytest.raises(errors.NotFound):
        raise error_from_code("CLUSTER_NOT_FOUND", "no cluster 'x'")
    with pytest.raises(errors.Unauthenticated):
        raise error_from_code("TOKEN_REVOKED", "revoked")


def test_to_dict_without_fields_has_code_and_message_only() -> None:
    assert ClusterNotFound("no compute cluster 'gpu-east'").to_dict() == {
        "error": {"code": "CLUSTER_NOT_FOUND", "message": "no compute cluster 'gpu-east'"}
    }


def test_to_dict_with_fields_names_the_offending_inputs() -> None:
    error = InvalidArgument("bad input", fields={"min_instances": "must not exceed max"})
    assert error.to_dict() == {
        "error": {
            "code": "INVALID_ARGUMENT",
            "message": "bad input",
            "fields": {"min_instances": "must not exceed max"},
        }
    }


def test_error_message_is_the_exception_text() -> None:
    assert str(TokenRevoked("token 'ci' was revoked")) == "token 'ci' was revoked"


def test_to_dict_round_trips_through_error_from_code() -> None:
    body = InvalidArgument("bad", fields={"id": "invalid id"}).to_dict()["error"]
    again = error_from_code(body["code"], body["message"], body.get("fields"))
    assert type(again) is InvalidArgument
    assert again.to_dict()["error"] == body
