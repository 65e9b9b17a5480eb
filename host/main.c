#include <stdio.h>
int main(void)
{
    fprintf(stderr, "hydra-host: not built yet\n");
    return 1;
}
