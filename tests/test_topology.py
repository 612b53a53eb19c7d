"""The app run locally is wired exactly as the app deployed: moto's live state vs the synthesized template."""

from __future__ import annotations

import json

from infra import topology


def by_handler(template: dict) -> dict[str, tuple[str, dict]]:
    """function name → (logical id, properties), from each function's handler string."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            props = resource["Properties"]
            found[props["Handler"].split(".")[1]] = (logical_id, props)
    return found


def deployed_wiring(template: dict) -> dict[str, set]:
    functions = by_handler(template)
    name_of_function = {logical_id: name for name, (logical_id, _) in functions.items()}
    # a topic or queue is named by the function that writes to it (its env var's Ref)
    topic_name, queue_name = {}, {}
    for spec in topology.FUNCTIONS:
        env = functions[spec.name][1]["Environment"]["Variables"]
        if spec.publishes_to:
            topic_name[env[topology.TOPIC_ARN_ENV]["Ref"]] = spec.publishes_to
        if spec.sends_to:
            queue_name[env[topology.QUEUE_URL_ENV]["Ref"]] = spec.sends_to
        if spec.writes_table:  # a table's stream is a mapping source as a queue is
            queue_name[env[topology.TABLE_NAME_ENV]["Ref"]] = spec.writes_table
    resources = template["Resources"].values()
    subscriptions = {
        (topic_name[r["Properties"]["TopicArn"]["Ref"]], name_of_function[r["Properties"]["Endpoint"]["Fn::GetAtt"][0]])
        for r in resources
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["Protocol"] == "lambda"
    }
    mappings = {
        (
            queue_name[r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]],
            name_of_function[r["Properties"]["FunctionName"]["Ref"]],
            r["Properties"]["BatchSize"],
        )
        for r in resources
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    api_targets = {
        name
        for r in resources
        if r["Type"] == "AWS::ApiGateway::Method"
        for logical_id, name in name_of_function.items()
        if logical_id in json.dumps(r["Properties"]["Integration"])
    }
    redrive = {
        r["Properties"]["RedrivePolicy"]["maxReceiveCount"]
        for r in resources
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    }
    # EventBridge: which event source each rule matches, and the function it targets; the bus is
    # the one whose name the putting function is given
    bus_of = {
        json.dumps(functions[s.name][1]["Environment"]["Variables"][topology.EVENT_BUS_ENV]): s.puts_events_to
        for s in topology.FUNCTIONS
        if s.puts_events_to
    }
    rules = {
        (
            bus_of[json.dumps(r["Properties"]["EventBusName"])],
            tuple(r["Properties"]["EventPattern"]["source"]),
            name_of_function[target["Arn"]["Fn::GetAtt"][0]],
        )
        for r in resources
        if r["Type"] == "AWS::Events::Rule"
        for target in r["Properties"]["Targets"]
    }
    # S3: which function each bucket notifies (the bucket's name is the stack's; locally topology's)
    notified = {
        (topology.UPLOADS_BUCKET, name_of_function[c["Function"]["Fn::GetAtt"][0]], c["Event"])
        for r in resources
        if r["Type"] == "AWS::S3::Bucket"
        for c in r["Properties"].get("NotificationConfiguration", {}).get("LambdaConfigurations", [])
    }
    return {
        "subscriptions": subscriptions,
        "sqs": mappings,
        "api": api_targets,
        "redrive": redrive,
        "rules": rules,
        "s3": notified,
    }


def local_wiring(local_aws) -> dict[str, set]:
    sns, sqs = local_aws.client("sns"), local_aws.client("sqs")
    tap_owner = {
        f"arn:aws:sqs:us-east-1:123456789012:sns-to-{name}": name for name in local_aws.resources.tap_queue_urls
    }
    subscriptions = {
        (s["TopicArn"].rsplit(":", 1)[-1], tap_owner[s["Endpoint"]]) for s in sns.list_subscriptions()["Subscriptions"]
    }
    # the runner polls each SQS-triggered function's queue with the trigger's batch size
    mappings = {
        (f.trigger.source, f.name, f.trigger.batch_size)
        for f in topology.FUNCTIONS
        if f.trigger.kind in ("sqs", "dynamodb")
    }
    # ... and the table's stream, which moto has on for the same table
    stream = local_aws.client("dynamodb").describe_table(TableName=topology.TABLE)["Table"]["StreamSpecification"]
    assert stream == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    api = {f.name for f in topology.FUNCTIONS if f.trigger.kind == "api"}
    attributes = sqs.get_queue_attributes(QueueUrl=local_aws.resources.queue_urls["work"], AttributeNames=["All"])
    redrive = {int(json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"])}
    events = local_aws.client("events")
    tap_owner.update(
        {
            f"arn:aws:sqs:us-east-1:123456789012:{prefix}-to-{name}": name
            for name in local_aws.resources.tap_queue_urls
            for prefix in ("events", "s3")
        }
    )
    rules = {
        (bus, tuple(json.loads(rule["EventPattern"])["source"]), tap_owner[target["Arn"]])
        for bus in [topology.EVENT_BUS]
        for rule in events.list_rules(EventBusName=bus)["Rules"]
        for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
    }
    s3 = local_aws.client("s3")
    notified = {
        (bucket, tap_owner[c["QueueArn"]], event)
        for bucket in [topology.UPLOADS_BUCKET]
        for c in s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
        for event in c["Events"]
    }
    return {
        "subscriptions": subscriptions,
        "sqs": mappings,
        "api": api,
        "redrive": redrive,
        "rules": rules,
        "s3": notified,
    }


def test_local_topology_equals_the_synthesized_templates(synth, local_aws) -> None:
    deployed = deployed_wiring(synth("xray"))
    assert deployed == local_wiring(local_aws)
    # and neither is empty: every function is wired to something
    wired = {fn for _, fn in deployed["subscriptions"]} | {fn for _, fn, _ in deployed["sqs"]} | deployed["api"]
    wired |= {fn for _, _, fn in deployed["rules"]} | {fn for _, fn, _ in deployed["s3"]}
    assert wired == {f.name for f in topology.FUNCTIONS}


def test_every_env_var_a_handler_reads_is_set_by_the_wiring() -> None:
    import ast
    from pathlib import Path

    from tests.conftest import ROOT

    names = {"TOPIC_ARN_ENV", "QUEUE_URL_ENV", "TABLE_NAME_ENV", "EXTERNAL_URL_ENV", "FAULT_RATE_ENV", "EVENT_BUS_ENV"}
    known = {getattr(topology, n) for n in names}
    for spec in topology.FUNCTIONS:
        source = Path(ROOT / "functions" / spec.name / "handler.py").read_text()
        read = {
            node.slice.value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value in known
        } | {
            node.args[0].value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in known
        }
        targets = topology.Targets(
            topic_arns=dict.fromkeys(topology.TOPICS, "arn"),
            queue_urls={topology.QUEUE.name: "url"},
            event_bus="bus",
            table="table",
            external_url="https://example.com/",
            fault_rate=0.5,
        )
        provided = topology.function_environment(spec, targets)
        assert read - provided.keys() == set(), f"{spec.name} reads env the wiring does not set"


def test_the_event_ingest_puts_is_the_one_the_rule_matches() -> None:
    # functions/ may not import infra/: the names are written twice, so they are checked here
    from functions.ingest import handler as ingest

    assert (ingest.EVENT_SOURCE, ingest.EVENT_DETAIL_TYPE) == (topology.EVENT_SOURCE, topology.EVENT_DETAIL_TYPE)
