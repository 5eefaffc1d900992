"""
A KServe v2 (Open Inference Protocol) REST endpoint in Python, as the KServe model server
builds one: FastAPI with pydantic request models, run by uvicorn, the model on onnxruntime.
The peer bench/peers.ts compares `modelhost serve` with (MLServer and the `kserve` package
are not installable on the bench machine; this is their serving stack without them).

    python bench/peers/kserve_v2_fastapi.py <model.onnx> <model name> [--intra-op-threads 1]

Serves POST /v2/models/<name>/infer (JSON tensors) and GET /v2/health/ready on 127.0.0.1 and
a free port, logs {"msg":"listening","url":...} on stdout once it listens; SIGTERM stops it.
One request is one onnxruntime call: the KServe server does not batch unless asked to.
"""
import argparse
import json
import socket
import sys
from typing import Any, List, Optional

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32, "INT64": np.int64}


class RequestInput(BaseModel):
    name: str
    shape: List[int]
    datatype: str
    data: List[Any]


class InferenceRequest(BaseModel):
    id: Optional[str] = None
    inputs: List[RequestInput]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("name")
    parser.add_argument("--intra-op-threads", type=int, default=1)
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.intra_op_threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]
    app = FastAPI()

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    @app.post("/v2/models/{model}/infer")
    def infer(model: str, request: InferenceRequest) -> dict:
        if model != args.name:
            raise HTTPException(status_code=404, detail=f"model {model} not found")
        feeds = {}
        for i in request.inputs:
            if i.datatype not in DTYPES:
                raise HTTPException(status_code=400, detail=f"unsupported datatype {i.datatype}")
            feeds[i.name] = np.asarray(i.data, dtype=DTYPES[i.datatype]).reshape(i.shape)
        results = session.run(output_names, feeds)
        outputs = [
            {"name": name, "datatype": "FP32", "shape": list(r.shape), "data": r.flatten().tolist()}
            for name, r in zip(output_names, results)
        ]
        return {"model_name": model, "model_version": "1", "id": request.id or "", "outputs": outputs}

    # A free port, then uvicorn on it (one process, one event loop: the default deployment).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    original_startup = server.startup

    async def startup(sockets=None) -> None:
        await original_startup(sockets)
        sys.stdout.write(json.dumps({"msg": "listening", "url": f"http://127.0.0.1:{port}"}) + "\n")
        sys.stdout.flush()

    server.startup = startup
    server.run()


if __name__ == "__main__":
    main()
