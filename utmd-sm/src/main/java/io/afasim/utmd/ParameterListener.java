package io.afasim.utmd;

/**
 * Told by a {@link ParameterSet} when a value actually changes. Runs on the owner's thread inside the
 * {@code set*} call; a listener only marks work to do (it must not set parameters itself).
 */
@FunctionalInterface
public interface ParameterListener
{
    void onParameterChanged(int parameterId);
}
