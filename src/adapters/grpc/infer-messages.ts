/**
 * The messages of the `.proto` as @grpc/proto-loader hands them over (`keepCase`,
 * `longs: String`, `defaults: true`, `oneofs: true`): 64-bit integers are decimal strings,
 * absent messages null, absent repeated fields empty.
 */

export interface InferParameter {
  readonly parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  readonly bool_param?: boolean;
  readonly int64_param?: string;
  readonly string_param?: string;
  readonly double_param?: number;
  readonly uint64_param?: string;
}

export interface InferTensorContents {
  readonly bool_contents?: readonly boolean[];
  readonly int_contents?: readonly number[];
  readonly int64_contents?: readonly string[];
  readonly uint_contents?: readonly number[];
  readonly uint64_contents?: readonly string[];
  readonly fp32_contents?: readonly number[];
  readonly fp64_contents?: readonly number[];
  readonly bytes_contents?: readonly Uint8Array[];
}

export type ContentsField = keyof InferTensorContents;

export interface InferInputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly string[];
  readonly parameters: Readonly<Record<string, InferParameter>>;
  readonly contents: InferTensorContents | null;
}

export interface InferRequestedOutputTensor {
  readonly name: string;
  readonly parameters: Readonly<Record<string, InferParameter>>;
}

export interface ModelInferRequest {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: Readonly<Record<string, InferParameter>>;
  readonly inputs: readonly InferInputTensor[];
  readonly outputs: readonly InferRequestedOutputTensor[];
  readonly raw_input_contents: readonly Uint8Array[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: Record<string, unknown[]>;
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: InferOutputTensor[];
  raw_output_contents: Uint8Array[];
}

export interface ModelRepositoryParameter {
  readonly parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'bytes_param';
  readonly bool_param?: boolean;
  readonly int64_param?: string;
  readonly string_param?: string;
  readonly bytes_param?: Uint8Array;
}

export interface RepositoryModelRequest {
  readonly repository_name: string;
  readonly model_name: string;
  readonly parameters: Readonly<Record<string, ModelRepositoryParameter>>;
}
