"""The one field reader of the node contracts: each reader's value, and each refusal in the
one wording "<where>: <field>: <what is allowed>"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from podplay.node.contract import fields
from podplay.node.contract.errors import ContractError

DOC = {"name": "web", "port": 80, "ratio": 0.5, "on": True, "labels": {"app": "web"}}


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (lambda: fields.document([1], "f.json"), "f.json: expected a JSON object, got a list"),
        (lambda: fields.document(None, "f.json: x", "an object"),
         "f.json: x: expected an object, got null"),
        (lambda: fields.only({**DOC, "podCidr": 1}, tuple(DOC), "f.json"),
         "f.json: podCidr: unknown field"),
        (lambda: fields.only({"b": 1, "a": 2}, (), "f.json: nodes[0]", "."),
         "f.json: nodes[0].a: unknown field"),
        (lambda: fields.string({}, "name", "f.json"),
         "f.json: name: missing (a non-empty string is required)"),
        (lambda: fields.string({"name": ""}, "name", "f.json"),
         "f.json: name: expected a non-empty string, got ''"),
        (lambda: fields.required({}, "port", "f.json", int),
         "f.json: port: missing (an integer is required)"),
        (lambda: fields.required({"port": "80"}, "port", "f.json", int),
         "f.json: port: expected an integer, got '80'"),
        (lambda: fields.optional({"port": True}, "port", "f.json", int),
         "f.json: port: expected an integer, got True"),
        (lambda: fields.optional({"ratio": True}, "ratio", "f.json", fields.NUMBER),
         "f.json: ratio: expected a number, got True"),
        (lambda: fields.optional({"on": 1}, "on", "f.json", bool),
         "f.json: on: expected true or false, got 1"),
        (lambda: fields.optional({"l": "x"}, "l", "f.json", list),
         "f.json: l: expected a list, got 'x'"),
        (lambda: fields.string_map({"labels": {"a": 1}}, "labels", "f.json"),
         "f.json: labels: expected an object of strings"),
        (lambda: fields.one_of("Info", ("Normal", "Warning"), "event: type"),
         "event: type: expected one of Normal, Warning, got 'Info'"),
        (lambda: fields.above_zero(0, "table: node_grace"),
         "table: node_grace: expected a number > 0, got 0"),
        (lambda: fields.above_zero(float("inf"), "t: x"), "t: x: expected a number > 0, got inf"),
        (lambda: fields.port(0, "f.json: port"),
         "f.json: port: expected a port number 1-65535, got 0"),
        (lambda: fields.port(-1, "f.json: api_port", low=0),
         "f.json: api_port: expected a port number 0-65535, got -1"),
        (lambda: fields.ip_address("nope", "f.json: address"),
         "f.json: address: expected an IP address, got 'nope'"),
        (lambda: fields.ip_network("10.244.1.5/24", "f.json: pod_cidr", strict=True),
         "f.json: pod_cidr: expected an IP network, got '10.244.1.5/24'"),
        (lambda: fields.ipv4("::1", "f.json: ip"),
         "f.json: ip: expected an IPv4 address, got '::1'"),
        (lambda: fields.ipv4_cidr("x", "f.json: cidr"),
         "f.json: cidr: expected an IPv4 CIDR, got 'x'"),
        (lambda: fields.at_least_one({"workers": 0}, "workers", "f.json", 8, ": "),
         "f.json: workers: expected an integer >= 1, got 0"),
        (lambda: fields.seconds({"period": -1}, "period", "f.json: probe", 10, 1),
         "f.json: probe.period: expected a number of seconds from 1 to 2147483647, got -1"),
    ],
)  # fmt: skip
def test_each_refusal_names_where_the_field_and_what_is_allowed(
    read: Callable[[], Any], message: str
) -> None:
    with pytest.raises(ContractError) as err:
        read()
    assert str(err.value) == message


def test_the_readers_return_the_value_or_the_default() -> None:
    assert fields.document(DOC, "f.json") is DOC
    fields.only(DOC, tuple(DOC), "f.json")  # nothing unknown: no error
    assert fields.string(DOC, "name", "f.json") == "web"
    assert fields.required(DOC, "ratio", "f.json", fields.NUMBER) == 0.5
    assert fields.required(DOC, "on", "f.json", bool) is True
    assert fields.optional({}, "port", "f.json", int) is None
    assert fields.string_map(DOC, "labels", "f.json") == {"app": "web"}
    assert fields.string_map({}, "labels", "f.json") == {}
    assert fields.one_of("Normal", ("Normal", "Warning"), "e: type") == "Normal"
    assert fields.above_zero(0.5, "t: x") == 0.5 and fields.port(0, "p", low=0) == 0
    assert fields.ip_address("::1", "a") == "::1" and fields.ip_network("10.0.0.5/8", "n")
    assert fields.ipv4_cidr("10.244.1.5/24", "c") == "10.244.1.0/24"
    assert fields.at_least_one({}, "workers", "f.json", 8, ": ") == 8


def test_a_field_joins_a_file_with_colon_and_a_path_with_dot() -> None:
    assert fields.sep_after("binding") == ": " and fields.sep_after("t: nodes[0]") == "."
    assert fields.child("binding", "requests") == "binding: requests"
    assert fields.child("binding: requests", "cpu") == "binding: requests.cpu"
