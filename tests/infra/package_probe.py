"""Run by tests/infra/test_package.py as ``python -I -S package_probe.py <json>``: an interpreter whose
sys.path is the standard library plus one function's code asset and layers, nothing else.

It imports the handler (timed: a cold import, since -B writes no bytecode and the package's is what
was built), then every other third-party module the function's code can import, invokes the handler
once with the event given, and for the functions with the mail layer renders a template from the
service's folder; it prints one JSON line: the handler's answer and the files it loaded from outside
the package and the standard library (there must be none).
"""

import importlib
import json
import sys
import sysconfig
import time
from pathlib import Path


class Context:
    function_name = "cxloop-probe"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cxloop-probe"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/cxloop-probe"
    log_stream_name = "probe"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    args = json.loads(sys.argv[1])
    sys.path[:0] = args["path"]
    module, function = args["handler"].split(":")
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module), function)
    import_s = time.perf_counter() - started
    for name in args["imports"]:  # what the handler did not import yet: lazy imports, implied ones
        importlib.import_module(name)
    started = time.perf_counter()
    answer = handler(args["event"], Context())
    invoke_s = time.perf_counter() - started
    rendered = None
    if args["templates"]:
        from shared.templates import environment

        folder = Path(args["path"][0]) / args["templates"]
        env = environment(folder)
        for name in sorted(p.name for p in folder.iterdir()):
            env.get_template(name)  # every template of the service compiles
        rendered = env.from_string("<p>{{ who }}</p>").render(who="<b>Ann</b>")
    allowed = [*args["path"], sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]]
    outside = sorted(
        str(getattr(m, "__file__", None))
        for n, m in list(sys.modules.items())
        if m is not sys.modules["__main__"]  # also __mp_main__ once multiprocessing is imported (spaCy)
        and getattr(m, "__file__", None)
        and not any(str(m.__file__).startswith(a) for a in allowed)
    )
    print(
        "PROBE "
        + json.dumps(
            {
                "answer": answer,
                "rendered": rendered,
                "outside": outside,
                "import_s": import_s,
                "invoke_s": invoke_s,
            },
            default=str,
        )
    )


main()
