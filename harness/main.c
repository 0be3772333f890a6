#include "harness/registry.h"
#include <stdio.h>
int main(void)
{
    for (size_t i = 0; i < atb_registry_count(); i++)
        printf("%s\n", atb_registry_get(i)->name);
    return 0;
}
