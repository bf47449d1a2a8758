package io.afasim.utmd;

/**
 * Called by the {@link TaskManager} at every {@link Boundary}. Production uses {@link #NONE}; tests throw
 * an {@link Error} from it to simulate a crash at that point (the manager never catches an Error).
 */
@FunctionalInterface
public interface BoundaryHook
{
    BoundaryHook NONE = (boundary, taskId, step) -> {};

    /**
     * @param boundary where the task is.
     * @param taskId   the task (0 for journal-wide boundaries such as compaction).
     * @param step     step index, or -1.
     */
    void onBoundary(Boundary boundary, long taskId, int step);
}
