/**
 * Graph ops tfjs refuses to run with the synchronous `execute()` ("... has the dynamic op
 * 'Where'. Please use model.executeAsync()"): control flow, ops whose output size depends
 * on the data, and hash tables. The list follows tfjs-converter's graph executor
 * (control-flow, dynamic and hash-table op categories).
 */
const DYNAMIC_OPS: ReadonlySet<string> = new Set([
  // control flow (TF1 loops and conditionals, TF2 functional ones, tensor arrays and lists)
  'Enter', 'Exit', 'Merge', 'Switch', 'LoopCond', 'NextIteration',
  'If', 'StatelessIf', 'While', 'StatelessWhile',
  'TensorArrayV3', 'TensorArrayWriteV3', 'TensorArrayReadV3', 'TensorArrayGatherV3', 'TensorArrayScatterV3',
  'TensorArrayConcatV3', 'TensorArraySplitV3', 'TensorArraySizeV3', 'TensorArrayCloseV3',
  'TensorListSetItem', 'TensorListGetItem', 'TensorListReserve', 'TensorListFromTensor', 'TensorListStack',
  'TensorListGather', 'TensorListScatter', 'TensorListScatterV2', 'TensorListConcat', 'TensorListConcatV2',
  'TensorListSplit', 'TensorListPushBack', 'TensorListPopBack', 'TensorListResize', 'TensorListLength', 'EmptyTensorList',
  // data-dependent output sizes
  'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV4', 'NonMaxSuppressionV5', 'Where', 'ListDiff',
  // hash tables
  'HashTable', 'HashTableV2', 'LookupTableImport', 'LookupTableImportV2', 'LookupTableFind', 'LookupTableFindV2',
  'LookupTableSize', 'LookupTableSizeV2',
]);

interface TopologyJson {
  node?: { op?: unknown }[];
  library?: { function?: { nodeDef?: { op?: unknown }[] }[] };
}

/** The dynamic ops a graph model's topology uses (in its graph and its function library), sorted. */
export function dynamicOpsOf(modelTopology: unknown): string[] {
  const topology = (typeof modelTopology === 'object' && modelTopology !== null ? modelTopology : {}) as TopologyJson;
  const found = new Set<string>();
  const scan = (nodes: { op?: unknown }[] | undefined) => {
    if (!Array.isArray(nodes)) return;
    for (const node of nodes) if (typeof node?.op === 'string' && DYNAMIC_OPS.has(node.op)) found.add(node.op);
  };
  scan(topology.node);
  for (const fn of topology.library?.function ?? []) scan(fn?.nodeDef);
  return [...found].sort();
}

/** Whether an error is tfjs refusing `execute()` for a graph that needs `executeAsync()`. */
export function needsAsyncExecution(error: unknown): boolean {
  return error instanceof Error && /executeAsync/.test(error.message);
}
