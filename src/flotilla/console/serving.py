"""Deployments: the list, a deployment's page (replicas, traffic, logs, cost, "Try it"), deploying
a model, deleting."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from flotilla.console.account import confirm_typed
from flotilla.console.summaries import ALL, cost_so_far, recent_events
from flotilla.console.templating import FormErrors
from flotilla.console.traffic import recent_traffic
from flotilla.console.web import (
    PREFIX,
    ConsoleRoute,
    SignedIn,
    go,
    number,
    posted,
    validate,
)
from flotilla.domain.errors import FlotillaError, InvalidArgument
from flotilla.domain.specs import AutoscaleConfig, DeploymentSpec
from flotilla.domain.states import (
    REPLICA_ENDED_STATES,
    NodepoolStatus,
    ObjectKind,
    SchedulingChoice,
)
from flotilla.services import clusters, deployments, logs, models, nodepools
from flotilla.services.paging import PageParams
from flotilla.services.usage import GroupBy
from flotilla.settings import Settings

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
DEPLOYMENT_EVENTS = {ObjectKind.DEPLOYMENT, ObjectKind.REPLICA}
LOG_LINES = 200
PREDICT_TIMEOUT_SECONDS = 120.0
"""Longer than the gateway holds a request while a deployment scales up from zero."""
AUTOSCALE_NUMBERS: dict[str, type[int] | type[float]] = {
    "min_replicas": int,
    "max_replicas": int,
    "target_concurrency": float,
    "traffic_history_seconds": int,
    "scale_up_delay_seconds": int,
    "scale_down_delay_seconds": int,
    "scale_to_zero_delay_seconds": int,
    "warmup_seconds": int,
    "burst_memory_seconds": int,
}


def gateway_url(settings: Settings) -> str:
    """Where predictions go: the server's own address with the gateway's port."""
    parts = urlsplit(settings.url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{settings.gateway_port}"


@router.get("/deployments")
async def deployment_list(visitor: SignedIn) -> Response:
    ctx = visitor.ctx
    async with ctx.db.read() as s:
        found = (await deployments.list_deployments(ctx, s, visitor.caller, ALL)).items
    return visitor.render("deployments.html", "deployments", deployments=found)


async def _deployment_page(
    visitor: SignedIn,
    deployment_id: str,
    errors: FormErrors,
    status_code: int = 200,
    tried: dict[str, Any] | None = None,
) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    async with ctx.db.read() as s:
        deployment = await deployments.get_deployment(ctx, s, caller, deployment_id)
        replicas = (await deployments.list_replicas(s, caller, deployment_id, ALL)).items
        traffic = await recent_traffic(s, caller, deployment_id, ctx.now())
        history = await recent_events(s, caller, deployment_id, DEPLOYMENT_EVENTS)
        costs = await cost_so_far(ctx, s, caller, GroupBy.DEPLOYMENT)
    lines = await asyncio.to_thread(
        logs.read, ctx.settings, [r.id for r in replicas], limit=LOG_LINES
    )
    return visitor.render(
        "deployment.html",
        "deployments",
        status_code,
        deployment=deployment,
        replicas=replicas,
        running=[r for r in replicas if r.state not in REPLICA_ENDED_STATES],
        traffic=traffic,
        events=history,
        log_lines=lines,
        cost=costs.get(deployment_id, 0.0),
        gateway=gateway_url(ctx.settings),
        errors=errors,
        tried=tried,
    )


@router.get("/deployments/{deployment_id}")
async def deployment_page(visitor: SignedIn, deployment_id: str) -> Response:
    return await _deployment_page(visitor, deployment_id, FormErrors())


@router.post("/deployments/{deployment_id}/delete")
async def deployment_delete(request: Request, visitor: SignedIn, deployment_id: str) -> Response:
    form = await posted(request, visitor)
    ctx = visitor.ctx
    try:
        confirm_typed(form.get("confirm"), deployment_id)
        async with ctx.db.write() as s:
            done = await deployments.delete_deployment(ctx, s, visitor.caller, deployment_id)
    except FlotillaError as error:
        return await _deployment_page(visitor, deployment_id, FormErrors(error), error.http_status)
    visitor.session.flash(f"Deployment '{deployment_id}': {done.status}.", "success")
    return go(PREFIX + "/deployments")


@router.post("/deployments/{deployment_id}/predict")
async def try_it(request: Request, visitor: SignedIn, deployment_id: str) -> Response:
    """Send a prediction through the gateway, as the signed-in user (their token)."""
    form = await posted(request, visitor)
    from_script = request.headers.get("x-requested-with") == "fetch"
    text = form.get("inputs")
    try:
        inputs = json.loads(text)
    except ValueError as error:
        problem = InvalidArgument(
            f"the inputs are not valid JSON: {error}", fields={"inputs": "not valid JSON"}
        )
        if from_script:
            return JSONResponse(problem.to_dict(), status_code=422)
        return await _deployment_page(visitor, deployment_id, FormErrors(problem), 422)
    tried = await _predict(visitor, deployment_id, inputs)
    tried["inputs"] = text
    if from_script:
        return JSONResponse(tried)
    return await _deployment_page(visitor, deployment_id, FormErrors(), tried=tried)


async def _predict(visitor: SignedIn, deployment_id: str, inputs: Any) -> dict[str, Any]:
    url = f"{gateway_url(visitor.ctx.settings)}/v1/deployments/{deployment_id}/predict"
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=PREDICT_TIMEOUT_SECONDS) as http:
            answer = await http.post(
                url,
                json={"inputs": inputs},
                headers={"Authorization": f"Bearer {visitor.session.secret}"},
            )
    except httpx.HTTPError as error:
        return {
            "status": 502,
            "body": {"error": {"message": f"the gateway at {url} did not answer: {error}"}},
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text
    return {
        "status": answer.status_code,
        "body": body,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def _deploy_form(
    visitor: SignedIn, values: dict[str, Any], errors: FormErrors, status_code: int = 200
) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    async with ctx.db.read() as s:
        found = (await models.list_models(s, caller, ALL)).items
        versions = {
            m.id: (await models.list_versions(s, caller, m.id, PageParams(per_page=20))).items
            for m in found
        }
        pools = []
        for cluster in (await clusters.list_clusters(ctx, s, caller, ALL)).items:
            for pool in (await nodepools.list_nodepools(ctx, s, caller, cluster.id, ALL)).items:
                if pool.status != NodepoolStatus.DELETING:
                    pools.append((cluster, pool))
    return visitor.render(
        "deployment_new.html",
        "deployments",
        status_code,
        models=found,
        versions=versions,
        pools=pools,
        choices=list(SchedulingChoice),
        values=values,
        errors=errors,
    )


@router.get("/new/deployment")
async def deploy_form(visitor: SignedIn, model: str = "", version: str = "latest") -> Response:
    defaults = AutoscaleConfig()
    values: dict[str, Any] = {
        "id": f"{model}-deployment" if model else "",
        "model": model,
        "model_version": version,
        "pools": [],
        "priorities": {},
        "scheduling_choice": SchedulingChoice.PRIORITY.value,
        "autoscale": {name: str(getattr(defaults, name)) for name in AUTOSCALE_NUMBERS},
        "disable_packing": False,
    }
    return await _deploy_form(visitor, values, FormErrors())


@router.post("/deployments")
async def deploy(request: Request, visitor: SignedIn) -> Response:
    form = await posted(request, visitor)
    ctx = visitor.ctx
    pools = form.getall("pools")
    values: dict[str, Any] = {
        **{name: form.get(name) for name in ("id", "description", "model", "model_version")},
        "scheduling_choice": form.get("scheduling_choice"),
        "pools": pools,
        "priorities": {ref: form.get(f"priority:{ref}", "0") for ref in pools},
        "autoscale": {name: form.get(f"autoscale_config.{name}") for name in AUTOSCALE_NUMBERS},
        "disable_packing": form.get("autoscale_config.disable_packing") == "on",
    }
    refs = []
    for ref in pools:
        cluster_id, _, pool_id = ref.partition("/")
        priority = number(values["priorities"][ref])
        refs.append({"compute_cluster": cluster_id, "nodepool": pool_id, "priority": priority})
    autoscale = {
        name: number(text, AUTOSCALE_NUMBERS[name])
        for name, text in values["autoscale"].items()
        if text not in ("", None)
    }
    data = {
        **{name: values[name] for name in ("id", "description", "model")},
        "scheduling_choice": values["scheduling_choice"] or SchedulingChoice.PRIORITY.value,
        "model_version": values["model_version"] or "latest",
        "nodepools": refs,
        "autoscale_config": {**autoscale, "disable_packing": values["disable_packing"]},
    }
    try:
        spec = validate(DeploymentSpec, data)
        async with ctx.db.write() as s:
            created = await deployments.create_deployment(ctx, s, visitor.caller, spec)
    except FlotillaError as error:
        renamed = {f"nodepools.{i}": f"pool:{ref}" for i, ref in enumerate(pools)}
        errors = FormErrors(error, **renamed)
        return await _deploy_form(visitor, values, errors, error.http_status)
    visitor.session.flash(f"Deployment '{created.id}' created.", "success")
    return go(f"{PREFIX}/deployments/{created.id}")
