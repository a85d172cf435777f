/* pingpong: ranks 0 and 1 bounce messages of SIZE bytes (default 1 MiB) ITERS times (default
 * 200, after 20 warm-up rounds); rank 0 prints the one-way latency in microseconds and the
 * bandwidth in MB/s (10^6 bytes per second). Other ranks only take part in MPI_Init. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int rank;
    long size = argc > 1 ? atol(argv[1]) : 1 << 20;
    int iters = argc > 2 ? atoi(argv[2]) : 200, warm = 20;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char *buf = malloc(size);
    memset(buf, rank, size);
    double t0 = 0;
    for (int i = 0; i < warm + iters; i++) {
        if (i == warm) { MPI_Barrier(MPI_COMM_WORLD); t0 = MPI_Wtime(); }
        if (rank == 0) {
            MPI_Send(buf, size, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buf, size, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buf, size, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, size, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
    }
    double t = MPI_Wtime() - t0;
    if (rank == 0) {
        double one_way = t / iters / 2;
        printf("size %ld latency_us %.2f bandwidth_MBps %.1f\n", size, one_way * 1e6, size / one_way / 1e6);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
