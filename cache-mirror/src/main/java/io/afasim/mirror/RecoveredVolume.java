package io.afasim.mirror;

import java.util.List;

/**
 * A volume's cached changes after a restart: {@link #changes()} in sequence order (replaying them onto the
 * shelf, in order, gives every acknowledged write), and {@link #superseded()} entries that a later change
 * of the same volume overrides (freed when the volume is adopted or discarded).
 */
public record RecoveredVolume(int volumeId, List<RecoveredChange> changes, List<RecoveredChange> superseded)
{
    public RecoveredVolume
    {
        changes = List.copyOf(changes);
        superseded = List.copyOf(superseded);
    }

    public static RecoveredVolume empty(final int volumeId)
    {
        return new RecoveredVolume(volumeId, List.of(), List.of());
    }

    public int pageCount()
    {
        int count = 0;
        for (final RecoveredChange change : changes)
        {
            count += change.isPage() ? 1 : 0;
        }
        return count;
    }

    public int recordCount()
    {
        return changes.size() - pageCount();
    }
}
