// Reference timing for `matchbench --graphs`: LEMON's maximum-weight matching on a graph
// file, the matching alone timed. Input (stdin): "n m" then m lines "u v w".
// Output: one JSON line {"seconds": ..., "weight": ..., "pairs": ...}.
// Built by the bench with `g++ -O2 lemon_matching.cpp -llemon` when liblemon-dev is present.
#include <chrono>
#include <cstdio>
#include <vector>

#include <lemon/matching.h>
#include <lemon/smart_graph.h>

int main() {
  int n = 0;
  long long m = 0;
  if (std::scanf("%d %lld", &n, &m) != 2) return 2;
  lemon::SmartGraph g;
  g.reserveNode(n);
  g.reserveEdge(static_cast<int>(m));
  std::vector<lemon::SmartGraph::Node> nodes;
  nodes.reserve(n);
  for (int i = 0; i < n; ++i) nodes.push_back(g.addNode());
  lemon::SmartGraph::EdgeMap<long long> weight(g);
  for (long long k = 0; k < m; ++k) {
    int u = 0, v = 0;
    long long w = 0;
    if (std::scanf("%d %d %lld", &u, &v, &w) != 3) return 2;
    weight[g.addEdge(nodes[u], nodes[v])] = w;
  }
  auto started = std::chrono::steady_clock::now();
  lemon::MaxWeightedMatching<lemon::SmartGraph, lemon::SmartGraph::EdgeMap<long long>> matching(g, weight);
  matching.run();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("{\"seconds\": %.6f, \"weight\": %lld, \"pairs\": %d}\n", seconds,
              static_cast<long long>(matching.matchingWeight()), matching.matchingSize());
  return 0;
}
