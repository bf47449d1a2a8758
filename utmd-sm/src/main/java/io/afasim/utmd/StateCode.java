package io.afasim.utmd;

/**
 * A state (or enum parameter value) with a stable numeric code. Codes go to the trace and to the task
 * journal, so they never change once released; enum ordinals may.
 */
public interface StateCode
{
    /**
     * @return the stable code of this constant, unique within its enum.
     */
    int code();
}
