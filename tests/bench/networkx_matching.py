"""Reference timing for `matchbench --graphs`: networkx's maximum-weight matching on a
graph file, the matching alone timed. Input (stdin): "n m" then m lines "u v w".
Output: one JSON line {"seconds": ..., "weight": ..., "pairs": ..., "version": ...}."""

import json
import sys
import time

import networkx as nx

n, m = map(int, sys.stdin.readline().split())
graph = nx.Graph()
graph.add_nodes_from(range(n))
for _ in range(m):
    u, v, w = map(int, sys.stdin.readline().split())
    graph.add_edge(u, v, weight=w)
started = time.perf_counter()
matching = nx.max_weight_matching(graph)
seconds = time.perf_counter() - started
weight = sum(graph[u][v]["weight"] for u, v in matching)
print(json.dumps({"seconds": seconds, "weight": weight, "pairs": len(matching), "version": nx.__version__}))
