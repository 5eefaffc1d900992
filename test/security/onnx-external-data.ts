import protobuf from 'protobufjs';

/**
 * A `model.onnx` (y = x + W, float32[4]) whose initializer W lives in an external data
 * file at `location`, as large ONNX models store their weights (onnx.proto's
 * `data_location = EXTERNAL` and `external_data`). For tests that check what onnxruntime
 * does with a location that points out of the repository.
 */
export function onnxWithExternalData(location: string): Uint8Array {
  const ModelProto = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  const valueInfo = (name: string) => ({ name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: [{ dim_value: 4 }] } } } });
  const external = [
    { key: 'location', value: location },
    { key: 'offset', value: '0' },
    { key: 'length', value: '16' },
  ];
  return ModelProto.encode(
    ModelProto.fromObject({
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name: 'external',
        node: [{ input: ['x', 'W'], output: ['y'], op_type: 'Add' }],
        initializer: [{ name: 'W', dims: [4], data_type: FLOAT, data_location: EXTERNAL, external_data: external }],
        input: [valueInfo('x')],
        output: [valueInfo('y')],
      },
    }),
  ).finish();
}

const FLOAT = 1;
const EXTERNAL = 1;

/** The fields of onnx.proto (github.com/onnx/onnx) this model uses, numbers unchanged. */
const PROTO = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message NodeProto { repeated string input = 1; repeated string output = 2; optional string name = 3; optional string op_type = 4; }
message ModelProto { optional int64 ir_version = 1; repeated OperatorSetIdProto opset_import = 8; optional GraphProto graph = 7; }
message GraphProto { repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message TensorProto { repeated int64 dims = 1; optional int32 data_type = 2; optional string name = 8; optional bytes raw_data = 9; repeated StringStringEntryProto external_data = 13; optional int32 data_location = 14; }
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message TensorShapeProto { message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } } repeated Dimension dim = 1; }
message TypeProto { message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; } oneof value { Tensor tensor_type = 1; } }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
`;
