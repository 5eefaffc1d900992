"""A client of modelhost's gRPC service in Python's grpcio (gRPC's C core), with stubs
generated from the shipped .proto by grpc_tools, as a user of another language would:
prints what it got back as one JSON line. Usage: python_client.py <port> <proto path>."""
import importlib
import json
import os
import struct
import sys
import tempfile

import grpc
from grpc_tools import protoc

port, proto = sys.argv[1], sys.argv[2]
out = tempfile.mkdtemp()
folder, name = os.path.split(proto)
if protoc.main(["protoc", f"-I{folder}", f"--python_out={out}", f"--grpc_python_out={out}", name]) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, out)
pb = importlib.import_module("grpc_predict_v2_pb2")
stubs = importlib.import_module("grpc_predict_v2_pb2_grpc")
stub = stubs.GRPCInferenceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))


def affine_request(values, id=""):
    request = pb.ModelInferRequest(model_name="affine", id=id)
    tensor = request.inputs.add(name="x", datatype="FP32")
    tensor.shape.extend([1, 4])
    request.raw_input_contents.append(struct.pack("<4f", *values))
    return request


result = {"live": stub.ServerLive(pb.ServerLiveRequest()).live}
meta = stub.ModelMetadata(pb.ModelMetadataRequest(name="affine"))
result["metadata"] = [meta.platform, meta.inputs[0].datatype, list(meta.inputs[0].shape)]
raw = stub.ModelInfer(affine_request([1, 2, 3, 4]), timeout=5)
result["raw"] = list(struct.unpack("<4f", raw.raw_output_contents[0]))
int64 = pb.ModelInferRequest(model_name="id-int64")
tensor = int64.inputs.add(name="x", datatype="INT64")
tensor.shape.extend([2])
tensor.contents.int64_contents.extend([-(2**63), 2**63 - 1])
result["int64"] = [str(v) for v in stub.ModelInfer(int64).outputs[0].contents.int64_contents]
try:
    stub.ModelInfer(pb.ModelInferRequest(model_name="nope", inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1])]))
except grpc.RpcError as error:
    result["error"] = [error.code().name, dict(error.trailing_metadata()).get("x-modelhost-error-code")]
streamed = stub.ModelStreamInfer(iter([affine_request([0, 0, 0, 0], "a"), affine_request([1, 1, 1, 1], "b")]))
result["stream"] = sorted((r.infer_response.id, list(struct.unpack("<4f", r.infer_response.raw_output_contents[0]))) for r in streamed)
print(json.dumps(result))
