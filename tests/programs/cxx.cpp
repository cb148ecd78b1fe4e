// C++ operator new/delete and std::vector growth reach malloc/free.
#include <cstdio>
#include <vector>
#include "benchmem.h"

struct Node { long a, b, c; };  // 24 bytes

int main() {
    benchmem_stats s;
    int id = benchmem_region_begin("vector");
    {
        std::vector<int> v;
        for (int i = 0; i < 100; i++) v.push_back(i);  // capacities 1,2,4,...,128
    }
    benchmem_region_end(id, &s);

    id = benchmem_region_begin("new_delete");
    Node *n = new Node{1, 2, 3};
    int *arr = new int[1000];
    delete n;
    delete[] arr;
    benchmem_region_end(id, &s);
    std::printf("done\n");
    return 0;
}
